package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	adminUser  = "hive-admin"
	adminGroup = "system:masters"
)

// state holds the paths of the credentials under DIR and what the process
// itself needs of them (the CA to trust, the admin token).
type state struct {
	dir string

	caCert, caKey           string
	servingCert, servingKey string
	saPublicKey             string
	saPrivateKey            string
	kubeletClientCert       string
	kubeletClientKey        string
	tokenFile               string
	adminTokenFile          string

	ca         *x509.Certificate
	adminToken string
}

// prepareState creates whatever is missing under dir: a CA, a serving
// certificate signed by it, a service-account signing key pair, and an admin
// token in a token auth file. Existing files are reused, so a restart with
// the same dir keeps the same identities.
func prepareState(dir string) (*state, error) {
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return nil, err
	}
	st := &state{
		dir:               dir,
		caCert:            filepath.Join(pki, "ca.crt"),
		caKey:             filepath.Join(pki, "ca.key"),
		servingCert:       filepath.Join(pki, "apiserver.crt"),
		servingKey:        filepath.Join(pki, "apiserver.key"),
		saPublicKey:       filepath.Join(pki, "sa.pub"),
		saPrivateKey:      filepath.Join(pki, "sa.key"),
		kubeletClientCert: filepath.Join(pki, "apiserver-kubelet-client.crt"),
		kubeletClientKey:  filepath.Join(pki, "apiserver-kubelet-client.key"),
		tokenFile:         filepath.Join(dir, "tokens.csv"),
		adminTokenFile:    filepath.Join(dir, "admin.token"),
	}

	newCA := false
	if !exists(st.caCert) || !exists(st.caKey) {
		if err := st.generateCA(); err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		newCA = true
	}
	ca, err := readCert(st.caCert)
	if err != nil {
		return nil, err
	}
	st.ca = ca

	if newCA || !exists(st.servingCert) || !exists(st.servingKey) {
		if err := st.generateServing(); err != nil {
			return nil, fmt.Errorf("serving certificate: %w", err)
		}
	}

	if newCA || !exists(st.kubeletClientCert) || !exists(st.kubeletClientKey) {
		if err := st.generateKubeletClient(); err != nil {
			return nil, fmt.Errorf("kubelet client certificate: %w", err)
		}
	}

	if !exists(st.saPublicKey) || !exists(st.saPrivateKey) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if err := writeKey(st.saPrivateKey, key); err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := writePEM(st.saPublicKey, "PUBLIC KEY", pub, 0o644); err != nil {
			return nil, err
		}
	}

	if b, err := os.ReadFile(st.adminTokenFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		st.adminToken = strings.TrimSpace(string(b))
	} else {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		st.adminToken = hex.EncodeToString(raw)
		if err := writeFileAtomic(st.adminTokenFile, []byte(st.adminToken+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	// Token auth file format: token,user,uid,"group1,group2"
	line := fmt.Sprintf("%s,%s,%s,\"%s\"\n", st.adminToken, adminUser, adminUser, adminGroup)
	if err := writeFileAtomic(st.tokenFile, []byte(line), 0o600); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *state) generateCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "hive-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writeKey(st.caKey, key); err != nil {
		return err
	}
	return writePEM(st.caCert, "CERTIFICATE", der, 0o644)
}

func (st *state) generateServing() error {
	return st.issue(st.servingCert, st.servingKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		// 10.96.0.1 is the "kubernetes" Service's ClusterIP (first of the range).
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback, net.ParseIP("10.96.0.1")},
	})
}

// generateKubeletClient makes the certificate the API server shows a kubelet
// (logs, exec): a client of the CA in system:masters, which the kubelet's
// webhook authorizer (a SubjectAccessReview to this server) allows.
func (st *state) generateKubeletClient() error {
	return st.issue(st.kubeletClientCert, st.kubeletClientKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{adminGroup}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// issue signs tmpl (subject, usages, names) with the CA for a year, with a
// new P-256 key, and writes the certificate and key to certPath and keyPath.
func (st *state) issue(certPath, keyPath string, tmpl *x509.Certificate) error {
	caKey, err := readKey(st.caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, st.ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o644)
}

// writeKubeconfig writes an admin kubeconfig for server (atomically).
func writeKubeconfig(path, server string, st *state) error {
	caPEM, err := os.ReadFile(st.caCert)
	if err != nil {
		return err
	}
	const name = "hive-test"
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[4]s
  user:
    token: %[5]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[4]s
current-context: %[1]s
`, name, server, base64.StdEncoding.EncodeToString(caPEM), adminUser, st.adminToken)
	return writeFileAtomic(path, []byte(cfg), 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New(path + ": not a signing key")
	}
	return signer, nil
}

func writeKey(path string, key any) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode fs.FileMode) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
