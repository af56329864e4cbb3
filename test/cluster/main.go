// Command hive-test-apiserver runs a real kube-apiserver (from the
// k8s.io/kubernetes module) in-process, backed by an embedded etcd, for the
// hive integration tests. All state lives under --dir; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		dir          string
		port         int
		readyTimeout time.Duration
		stopTimeout  time.Duration
		node         bool
	)
	flag.StringVar(&dir, "dir", "", "state directory: etcd data, certificates, keys, token file, kubeconfig (required)")
	flag.IntVar(&port, "port", 0, "secure port on 127.0.0.1; 0 lets the kernel pick a free one")
	flag.DurationVar(&readyTimeout, "ready-timeout", 3*time.Minute, "give up if /readyz is not ok after this long")
	flag.DurationVar(&stopTimeout, "stop-timeout", 30*time.Second, "on SIGTERM/SIGINT, wait this long for the API server to stop")
	flag.BoolVar(&node, "node", false, "a controller-manager and kubelet run beside it (test/node): keep the ServiceAccount admission plugin on")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s --dir DIR [--port N] [--node] [-- extra kube-apiserver flags...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if dir == "" {
		flag.Usage()
		return 2
	}
	if port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "--port %d out of range\n", port)
		return 2
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The first SIGTERM/SIGINT cancels ctx and starts a clean shutdown; once
	// stop() has run, a second signal kills the process the default way.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logf("preparing certificates and keys in %s", dir)
	st, err := prepareState(dir)
	if err != nil {
		logf("error: %v", err)
		return 1
	}

	logf("starting embedded etcd")
	etcd, err := startEtcd(ctx, dir)
	if err != nil {
		logf("error: etcd: %v", err)
		return 1
	}
	defer func() {
		logf("stopping etcd")
		etcd.Close()
		logf("etcd stopped")
	}()
	logf("etcd ready at %s", etcd.clientURL)

	// Listen ourselves so that --port 0 has no race between choosing a port
	// and binding it; the API server serves on this listener.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		logf("error: listen: %v", err)
		return 1
	}
	port = ln.Addr().(*net.TCPAddr).Port
	server := "https://127.0.0.1:" + strconv.Itoa(port)

	args := apiserverArgs(st, etcd.clientURL, port, node)
	args = append(args, flag.Args()...) // later flags win

	apiCtx, cancelAPI := context.WithCancel(context.Background())
	defer cancelAPI()
	apiDone := make(chan error, 1)
	go func() { apiDone <- runAPIServer(apiCtx, args, ln) }()
	logf("kube-apiserver starting on %s", server)

	readyCtx, cancelReady := context.WithTimeout(ctx, readyTimeout)
	readyErr := make(chan error, 1)
	go func() { readyErr <- waitReady(readyCtx, server, st) }()

	exit := 0
	select {
	case err := <-readyErr:
		cancelReady()
		if err != nil {
			if ctx.Err() != nil {
				logf("signal received before ready, stopping")
			} else {
				logf("error: not ready: %v", err)
				exit = 1
			}
			break
		}
		kubeconfig := filepath.Join(dir, "kubeconfig")
		if err := writeKubeconfig(kubeconfig, server, st); err != nil {
			logf("error: %v", err)
			exit = 1
			break
		}
		fmt.Printf("ready kubeconfig=%s\n", kubeconfig)
		select {
		case <-ctx.Done():
			logf("signal received, stopping")
		case err := <-apiDone:
			logf("error: kube-apiserver exited: %v", err)
			return 1 // deferred etcd stop still runs
		case err := <-etcd.Err():
			logf("error: etcd failed: %v", err)
			exit = 1
		}
	case err := <-apiDone:
		cancelReady()
		logf("error: kube-apiserver exited before ready: %v", err)
		return 1
	case err := <-etcd.Err():
		cancelReady()
		logf("error: etcd failed: %v", err)
		exit = 1
	}
	stop()

	cancelAPI()
	select {
	case err := <-apiDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			logf("kube-apiserver stopped with: %v", err)
		} else {
			logf("kube-apiserver stopped")
		}
	case <-time.After(stopTimeout):
		logf("kube-apiserver did not stop within %s, exiting anyway", stopTimeout)
	}
	return exit
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "hive-test-apiserver: "+format+"\n", a...)
}
