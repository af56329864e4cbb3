package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// serviceAccountIssuer is the iss claim of the tokens this API server issues.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// apiserverArgs returns the kube-apiserver command line for this test cluster.
// With node, a kube-controller-manager and a kubelet run beside it (test/node):
// the ServiceAccount admission plugin stays on (the controller-manager creates
// the "default" ServiceAccounts it waits for) and the server reaches the
// kubelet (logs, exec) at the node's InternalIP with a client certificate.
func apiserverArgs(st *state, etcdURL string, port int, node bool) []string {
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		// 127.0.0.1 cannot be written into the Endpoints of the "kubernetes"
		// Service (loopback addresses are rejected), and any other address
		// would point at something that is not this server: keep the Service
		// but do not reconcile its endpoints.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + st.servingCert,
		"--tls-private-key-file=" + st.servingKey,
		"--client-ca-file=" + st.caCert,
		"--token-auth-file=" + st.tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--api-audiences=" + serviceAccountIssuer,
		"--service-account-key-file=" + st.saPublicKey,
		"--service-account-signing-key-file=" + st.saPrivateKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + st.kubeletClientCert,
		"--kubelet-client-key=" + st.kubeletClientKey,
		// The node's name need not resolve; its InternalIP is what it reports.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--profiling=false",
	}
	if !node {
		// No kube-controller-manager runs, so nothing would create the
		// "default" ServiceAccount that this plugin waits for.
		args = append(args, "--disable-admission-plugins=ServiceAccount")
	}
	return args
}

// runAPIServer parses args as kube-apiserver flags and runs the server on ln
// until ctx is cancelled. It mirrors what app.NewAPIServerCommand's RunE
// does, but with our own context: NewAPIServerCommand installs a process-wide
// signal handler of its own, and we need to stop etcd after the API server.
func runAPIServer(ctx context.Context, args []string, ln net.Listener) error {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, set := range s.Flags().FlagSets {
		fs.AddFlagSet(set)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-apiserver flags: %w", err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
		return err
	}

	// Serve on our listener; --secure-port already names its port.
	s.SecureServing.Listener = ln

	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return app.Run(ctx, completed)
}

// waitReady polls GET /readyz with the admin token until it answers 200 "ok".
func waitReady(ctx context.Context, server string, st *state) error {
	pool := x509.NewCertPool()
	pool.AddCert(st.ca)
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
	defer client.CloseIdleConnections()
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+st.adminToken)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last /readyz: %s)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
