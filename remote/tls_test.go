package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:     true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a certificate signed by the CA, for a server (on
// 127.0.0.1) or a client.
func (ca *testCA) issue(t testing.TB, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A listener that requires and verifies client certificates: a Client
// and a Worker with a certificate of the clients' CA work; without one,
// or with one of another CA, Dial and Serve fail within a few seconds
// with an error that says TLS refused them and shows no password.
func TestTLSWithClientCertificates(t *testing.T) {
	serverCA, clientCA, strangerCA := newTestCA(t, "servers"), newTestCA(t, "clients"), newTestCA(t, "strangers")
	srv, err := remote.StartServer(remote.ServerConfig{Port: -1, Users: testUsers, TLS: &tls.Config{
		Certificates: []tls.Certificate{serverCA.issue(t, "server", true)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.pool,
		MinVersion:   tls.VersionTLS12,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	config := func(user, password string, certs ...tls.Certificate) remote.Config {
		return remote.Config{URL: srv.URL(), Queue: "jobs", User: user, Password: password,
			TLS: &tls.Config{RootCAs: serverCA.pool, Certificates: certs, MinVersion: tls.VersionTLS12}}
	}
	serveInProcess(t, config("wk", pw+"-w", clientCA.issue(t, "wk", false)))
	c := dialURL(t, config("alice", pw+"-a", clientCA.issue(t, "alice", false)))
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{20, 22})); err != nil || v != 42 {
		t.Fatalf("with a client certificate: = %v, %v", v, err)
	}

	// Go's TLS client sends only a certificate of a CA the server names;
	// this one sends the stranger's anyway, for the server to refuse.
	stranger := config("alice", pw+"-a")
	strangerCert := strangerCA.issue(t, "alice", false)
	stranger.TLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &strangerCert, nil }
	for name, cfg := range map[string]remote.Config{
		"no certificate":           config("alice", pw+"-a"),
		"another CA's certificate": stranger,
		"plaintext":                {URL: srv.URL(), Queue: "jobs", User: "alice", Password: pw + "-a"},
	} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, derr := remote.Dial(ctx, cfg)
		_, serr := remote.Serve(ctx, cfg, testRegistry())
		cancel()
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: Dial and Serve refused after %v; want a few seconds", name, took)
		}
		for _, err := range []error{derr, serr} {
			switch {
			case err == nil:
				t.Fatalf("%s: accepted", name)
			case strings.Contains(err.Error(), pw):
				t.Fatalf("%s: the error shows the password: %v", name, err)
			case !strings.Contains(strings.ToLower(err.Error()), "tls") && !strings.Contains(err.Error(), "certificate"):
				t.Errorf("%s: %v; want an error that names TLS or the certificate", name, err)
			}
		}
		t.Logf("%s: %v", name, derr)
	}
}
