// Package kubernetes holds the test that checks the Kubernetes manifests
// beside it: it decodes every document strictly with the Kubernetes API
// types (an unknown or misspelt field, or a value of the wrong type, fails)
// and checks what ties them together: selectors and labels, the ordinal to
// shard mapping, probes, the resources sized from the shard file, the
// disruption budgets. It is a module of its own, so that the Kubernetes
// libraries are not dependencies of embstore's users. Run it with
//
//	cd deploy/kubernetes && go test ./...
package kubernetes
