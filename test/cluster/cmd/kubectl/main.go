// Command kubectl is the real kubectl of the Kubernetes version pinned in
// ../../go.mod (k8s.io/kubectl), built by build.sh next to
// hive-test-apiserver so that the test cluster can be used without a
// separately installed kubectl. See ../../kubectl.sh.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	// The in-tree client auth plugins (oidc; azure and gcp stubs), as in the
	// upstream binary.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	// Apply -v/--v before the command is built, so that klog output while
	// reading plugins and .kuberc honours it (the full flag parse happens
	// later, in cli.RunNoErrOutput).
	_, _ = logs.GlogSetter(cmd.GetLogVerbosity(os.Args))
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err) // prints the error the way kubectl does and exits 1
	}
}
