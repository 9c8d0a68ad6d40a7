package statedir

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

// What a folder a local user made ahead of the daemon may carry: C:\ProgramData's
// inherited grants give Users write and CREATOR OWNER full control. Judged
// from the descriptors themselves, with Windows' own parsing and ACE walk
// (Wine keeps no DACL of its own on files, so none can be put on a folder
// there).
func TestJudgeRefusesWhatOthersOwnOrMayWrite(t *testing.T) {
	cases := map[string]string{
		"O:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)":                       "",
		"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)": "", // Users may read
		"O:SYD:P(A;OICI;FA;;;SY)(A;OICI;0x1301bf;;;BU)":                 "S-1-5-32-545 may write to it",
		"O:SYD:(A;OICI;FA;;;SY)(A;CIIO;0x116;;;BU)":                     "S-1-5-32-545 may write to it", // ProgramData's add-folder grant
		"O:BUD:P(A;OICI;FA;;;SY)":                                       "owned by S-1-5-32-545",
		"O:SY":                                                          "no DACL",
	}
	for sddl, want := range cases {
		sd, err := windows.SecurityDescriptorFromString(sddl)
		if err != nil {
			t.Fatal(err)
		}
		err = judge(sd)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", sddl, err, want)
		}
	}
}

// The folder Prepare makes grants SYSTEM and Administrators alone.
func TestPrepareMakesAFolderForSystemAndAdministratorsAlone(t *testing.T) {
	wine.Skip(t, "Wine 8.0 stores a new folder's DACL without the protected flag and with the current user for BUILTIN\\Administrators")
	dir := filepath.Join(wine.TempDir(t), "winimage")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if s := sd.String(); !strings.Contains(s, "D:P") || strings.Contains(s, ";BU)") || strings.Contains(s, ";WD)") || strings.Contains(s, ";AU)") {
		t.Errorf("DACL of the folder it made: %s", s)
	}
}
