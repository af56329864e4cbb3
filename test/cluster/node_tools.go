//go:build tools

// The node's components (kubelet, kube-controller-manager, kube-scheduler) are
// built by build-node.sh straight from k8s.io/kubernetes/cmd/...; this file
// only keeps their packages' requirements in go.mod and go.sum, so that
// `go mod tidy` does not drop them. It is never compiled (build tag).
package main

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
)
