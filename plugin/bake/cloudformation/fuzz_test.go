package cloudformation

import (
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// FuzzTemplate: whatever reference or ctr path the component generator
// accepts, the template calls functions exactly where the benign one does
// and carries the component document unchanged (bake's FuzzComponent
// checks the component itself).
func FuzzTemplate(f *testing.F) {
	f.Add("123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2.3.1", bake.DefaultCtr)
	f.Add("nginx:1.27", `C:\it's\ctr.exe`)
	f.Add("registry.example/a'b:1", "ctr\u2019 ; Remove-Item C:\\")
	f.Add("r.example:5000/x/y@"+digestB, "$(calc)\n- name: evil")
	f.Add("r.example/${AWS::Region}/x:1", bake.DefaultCtr)
	f.Fuzz(func(t *testing.T, ref, ctr string) {
		if ctr == "" {
			return
		}
		bp := &bake.BuildPlan{Build: 20348, WindowsServer: "2022", Images: chosen(ref, "mcr.microsoft.com/windows/servercore:ltsc2022")}
		c, err := bake.ComponentFor(bp, ctr, "fuzz")
		if err != nil {
			return
		}
		bp.Component = c
		checkTemplateFor(t, bp)
	})
}
