package main

import (
	"strings"
	"testing"
)

func TestClusterUsageErrors(t *testing.T) {
	path, _, _ := seedTable(t, 10, 4, 0)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve", path, "--advertise", "http://h:1"}, 2, "go with --etcd"},
		{[]string{"serve", path, "--etcd-ttl", "5s"}, 2, "go with --etcd"},
		{[]string{"serve", path, "--etcd", "http://127.0.0.1:1", "--etcd-ttl", "10ms"}, 2, "--etcd-ttl 10ms"},
		{[]string{"serve", path, "--etcd", "http://127.0.0.1:1", "--advertise", "127.0.0.1:8080"}, 2, "--advertise"},
		{[]string{"serve", path, "--etcd", "http://127.0.0.1:1", "--etcd-prefix", "x/"}, 2, "--etcd-prefix"},
		{[]string{"serve", path, "--etcd", "http://127.0.0.1:1", "--addr", "0.0.0.0:0"}, 2, "needs --advertise"},
		{[]string{"route"}, 2, "--etcd ENDPOINTS is required"},
		{[]string{"route", "--etcd", "http://127.0.0.1:1", "extra"}, 2, "takes no arguments"},
		{[]string{"route", "--etcd", "http://127.0.0.1:1", "--table", "a/b"}, 2, "--table"},
		{[]string{"route", "--etcd", "http://127.0.0.1:1", "--upstream-timeout", "0s"}, 2, "--upstream-timeout"},
		{[]string{"route", "--etcd", "http://127.0.0.1:1", "--upstream-api-key-file", path + ".none"}, 1, "--upstream-api-key-file"},
	} {
		code, _, stderr := runCmd(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}
