package statedir

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// protectedDACL grants full control to SYSTEM and the Administrators group,
// inherited by what is created inside, and nothing to anyone else; P
// blocks the inheritance of C:\ProgramData's own grants (Users may create
// folders there, and CREATOR OWNER gets full control of what they make).
const protectedDACL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

func create(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(protectedDACL)
	if err != nil {
		return err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	if err := windows.CreateDirectory(p, sa); err != nil {
		return fmt.Errorf("create state folder %s: %w", dir, err)
	}
	return nil
}

// writeRights are the rights that let a holder change what is in the
// folder or who may: on a folder FILE_WRITE_DATA is FILE_ADD_FILE and
// FILE_APPEND_DATA is FILE_ADD_SUBDIRECTORY (winnt.h); 0x40 is
// FILE_DELETE_CHILD.
const writeRights = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA | 0x40 |
	windows.FILE_WRITE_ATTRIBUTES | windows.DELETE | windows.WRITE_DAC | windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL

// checkOwnership refuses a folder whose owner is not SYSTEM or the
// Administrators, or whose DACL lets anyone else write.
func checkOwnership(dir string) error {
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return err
	}
	return judge(sd)
}

// judge refuses a security descriptor whose owner is not trusted or whose
// DACL lets anyone else write.
func judge(sd *windows.SECURITY_DESCRIPTOR) error {
	owner, _, err := sd.Owner()
	if err != nil {
		return err
	}
	if !trusted(owner) {
		return fmt.Errorf("owned by %s, not SYSTEM, the Administrators or the daemon's account", owner)
	}
	// No DACL at all grants everyone everything (x/sys answers
	// ERROR_OBJECT_NOT_FOUND when none is present).
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil) {
		return fmt.Errorf("it has no DACL: everyone may write to it")
	}
	if err != nil {
		return err
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Mask&writeRights == 0 {
			continue
		}
		// The SID starts at SidStart (winnt.h ACCESS_ALLOWED_ACE).
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !trusted(sid) {
			return fmt.Errorf("%s may write to it", sid)
		}
	}
	return nil
}

// trusted: SYSTEM, the Administrators, or the account the daemon runs as
// (SYSTEM in its HostProcess pod; another when run by hand).
func trusted(sid *windows.SID) bool {
	if sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
		return true
	}
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	return err == nil && sid.Equals(user.User.Sid)
}

// checkLink lets the folder a link leads to be judged: GetNamedSecurityInfo
// reads the target's owner and DACL.
func checkLink(os.FileInfo) error { return nil }
