package gobuild

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestBinaryIsBuiltOncePerStampsAndCarriesThem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	stamp := "github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo.Version=v0.0.0-gobuild"
	bin := Binary(t, "./cmd/kubectl-winimage", stamp)
	if again := Binary(t, "./cmd/kubectl-winimage", stamp); again != bin {
		t.Fatalf("built twice: %s, %s", bin, again)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version", "--client").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v0.0.0-gobuild") {
		t.Fatalf("version --client: %v\n%s", err, out)
	}
}
