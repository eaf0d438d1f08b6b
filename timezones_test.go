package roster_test

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestTimeZonesMatchToolchain holds timezones.txt to the IANA database of the Go that builds
// roster (lib/time/zoneinfo.zip, which time/tzdata embeds). When Go updates its tzdata, this
// fails until `go generate` writes the list again.
func TestTimeZonesMatchToolchain(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	r, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Skipf("no zoneinfo.zip in GOROOT: %v", err)
	}
	defer r.Close()
	var want []string
	for _, f := range r.File {
		want = append(want, f.Name)
	}
	slices.Sort(want)
	data, err := os.ReadFile("timezones.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(data)); !slices.Equal(got, want) {
		t.Fatalf("timezones.txt lists %d zones, Go's database %d: run go generate", len(got), len(want))
	}
	for _, name := range want {
		if !roster.ValidTimeZone(name) || !roster.ValidTimeZone(strings.ReplaceAll(name, "_", " ")) {
			t.Fatalf("ValidTimeZone(%q) = false", name)
		}
	}
}

// TestValidTimeZoneRefusesFiles: names of files a server's zoneinfo folder may hold, and paths
// that reach a zone through it, are no zone names.
func TestValidTimeZoneRefusesFiles(t *testing.T) {
	for _, s := range []string{"", "Local", "localtime", "posixrules", "./UTC", "Etc//UTC", "Etc/./UTC", "../UTC", "/UTC", "UTC/",
		"right/UTC", "posix/UTC", "zone.tab", "tzdata.zi", "leapseconds", "utc", "America/Los__Angeles", "America/Los\tAngeles",
		"America/Los_Angeles\x00", "America/Los_Angeles "} {
		if roster.ValidTimeZone(s) {
			t.Errorf("ValidTimeZone(%q) = true", s)
		}
	}
}
