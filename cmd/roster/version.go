package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

func versionCmd(_ context.Context, c *cli, args []string) error {
	fs := c.flags("version", `usage: roster version

Prints the module version of this build and, when it was built from a checkout, the VCS
revision, its time and whether the tree had changes ("modified").`)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(c.stdout, "roster", version(bi))
	return nil
}

// version describes a build: "v1.2.0", or "(devel) rev 0123abcd4567 2026-12-06T19:00:00Z modified"
// for a build from a checkout (go build stamps the VCS fields; go run and go test do not).
func version(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(unknown build)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	parts := []string{v}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		parts = append(parts, "rev "+rev)
	}
	if t := set["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	if set["vcs.modified"] == "true" {
		parts = append(parts, "modified")
	}
	return strings.Join(parts, " ") + " " + bi.GoVersion
}
