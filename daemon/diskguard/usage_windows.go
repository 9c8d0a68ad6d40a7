//go:build windows

package diskguard

import "golang.org/x/sys/windows"

func volumeUsage(path string) (used, total uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	var free, totalBytes, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &totalBytes, &totalFree); err != nil {
		return 0, 0, err
	}
	return totalBytes - free, totalBytes, nil
}
