package trust

import (
	"os"
	"os/exec"
)

// testCommand runs this test binary's TestHelperProcess with spec.
func testCommand(exe, spec string) *exec.Cmd {
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+spec)
	return cmd
}
