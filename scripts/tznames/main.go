// Command tznames writes the names of the time zones in Go's IANA database (the zoneinfo.zip
// that time/tzdata embeds in every roster binary), one a line, sorted: roster accepts exactly
// these as an entity's time_zone. Run by go generate in the repository root:
//
//	go run ./scripts/tznames > timezones.txt
package main

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tznames: go env GOROOT:", err)
		os.Exit(1)
	}
	names, err := zoneNames(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tznames:", err)
		os.Exit(1)
	}
	fmt.Print(strings.Join(names, "\n") + "\n")
}

func zoneNames(path string) ([]string, error) {
	r, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		if !strings.HasSuffix(f.Name, "/") {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}
