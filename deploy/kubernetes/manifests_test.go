package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// objects are the decoded manifests, by kind and name.
type objects struct {
	configMaps   map[string]*corev1.ConfigMap
	services     map[string]*corev1.Service
	claims       map[string]*corev1.PersistentVolumeClaim
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	budgets      map[string]*policyv1.PodDisruptionBudget
}

// load decodes every document of every YAML file here, strictly.
func load(t *testing.T) *objects {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	o := &objects{configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{},
		claims: map[string]*corev1.PersistentVolumeClaim{}, statefulSets: map[string]*appsv1.StatefulSet{},
		deployments: map[string]*appsv1.Deployment{}, budgets: map[string]*policyv1.PodDisruptionBudget{}}
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, gvk, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			name := obj.(metav1.Object).GetName()
			where := fmt.Sprintf("%s: %s %s", f, gvk.Kind, name)
			if name == "" {
				t.Fatalf("%s has no name", where)
			}
			switch v := obj.(type) {
			case *corev1.ConfigMap:
				o.configMaps[name] = v
			case *corev1.Service:
				o.services[name] = v
			case *corev1.PersistentVolumeClaim:
				o.claims[name] = v
			case *appsv1.StatefulSet:
				o.statefulSets[name] = v
			case *appsv1.Deployment:
				o.deployments[name] = v
			case *policyv1.PodDisruptionBudget:
				o.budgets[name] = v
			default:
				t.Fatalf("%s: a kind this test does not check", where)
			}
		}
	}
	return o
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

func TestStrictDecodingCatchesMistakes(t *testing.T) {
	scheme := runtime.NewScheme()
	appsv1.AddToScheme(scheme)
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n",    // misspelt field
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n", // wrong type
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, name: y}\n",               // duplicate field
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: a, imag: b}]\n",
	} {
		if _, _, err := dec.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
}

// envOf returns the names of a container's environment variables.
func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkContainer checks what every container here needs: the $(VAR)
// references of its arguments defined (Kubernetes leaves undefined ones as
// they are), config map keys that exist, probes on /health at a declared
// port, a memory request and limit.
func checkContainer(t *testing.T, o *objects, where string, c corev1.Container, probes bool) {
	t.Helper()
	env := envOf(c)
	for _, a := range append(append([]string(nil), c.Command...), c.Args...) {
		for _, m := range varRef.FindAllStringSubmatch(a, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("%s: argument %q refers to $(%s), which is not in its environment", where, a, m[1])
			}
		}
	}
	for name, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := o.configMaps[ref.Name]
			if cm == nil {
				t.Errorf("%s: %s from config map %s, which is not defined here", where, name, ref.Name)
			} else if _, ok := cm.Data[ref.Key]; !ok {
				t.Errorf("%s: %s from key %s, which config map %s lacks", where, name, ref.Key, ref.Name)
			}
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if probes {
		for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" {
				t.Errorf("%s: no %s probe on GET /health", where, kind)
				continue
			}
			if _, ok := ports[p.HTTPGet.Port.StrVal]; p.HTTPGet.Port.Type != intstr.String || !ok {
				t.Errorf("%s: %s probe on port %s, which the container does not declare", where, kind, p.HTTPGet.Port.String())
			}
		}
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: no memory request and limit", where)
	}
	if c.Resources.Limits.Memory().Cmp(*c.Resources.Requests.Memory()) < 0 {
		t.Errorf("%s: memory limit below the request", where)
	}
}

// arg returns the value of --name=VALUE in args.
func arg(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name {
			return "", true
		}
	}
	return "", false
}

// selects checks that a selector picks a set of labels, and a service's
// selector (a plain map) too.
func selects(t *testing.T, where string, sel *metav1.LabelSelector, l map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if s.Empty() || !s.Matches(labels.Set(l)) {
		t.Errorf("%s: selector %v does not pick the pods' labels %v", where, s, l)
	}
}

func TestShardServers(t *testing.T) {
	o := load(t)
	cm := o.configMaps["embstore-cluster"]
	ss := o.statefulSets["embstore-shard"]
	if cm == nil || ss == nil {
		t.Fatal("the config map embstore-cluster or the StatefulSet embstore-shard is missing")
	}
	shards, err := strconv.Atoi(cm.Data["SHARDS"])
	if err != nil || shards < 1 {
		t.Fatalf("SHARDS %q", cm.Data["SHARDS"])
	}
	if v, err := strconv.ParseUint(cm.Data["VERSION"], 10, 64); err != nil || v < 1 {
		t.Errorf("VERSION %q: want 1 or more", cm.Data["VERSION"])
	}
	if cm.Data["ETCD_ENDPOINTS"] == "" || cm.Data["TABLE"] == "" {
		t.Error("ETCD_ENDPOINTS and TABLE must be set")
	}
	// Pod i serves shard i mod SHARDS: the replicas are a whole number of
	// copies of the shards, at least two of each.
	n := int(*ss.Spec.Replicas)
	if n%shards != 0 || n/shards < 2 {
		t.Errorf("%d pods for %d shards: want 2 or more replicas of every shard", n, shards)
	}
	pod := ss.Spec.Template
	selects(t, "StatefulSet embstore-shard", ss.Spec.Selector, pod.Labels)
	svc := o.services[ss.Spec.ServiceName]
	if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("the StatefulSet's service %q is not a headless Service here", ss.Spec.ServiceName)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Errorf("Service %s does not select the shard pods", svc.Name)
	}
	if len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one init container and one container, got %d and %d", len(pod.Spec.InitContainers), len(pod.Spec.Containers))
	}
	init, c := pod.Spec.InitContainers[0], pod.Spec.Containers[0]
	checkContainer(t, o, "init container", init, false)
	checkContainer(t, o, "shard server", c, true)
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil {
		t.Error("no startup probe: verifying a large shard may outlast the liveness probe")
	}
	ie := envOf(init)
	if e := ie["POD_INDEX"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Error("the init container does not get the pod's ordinal (label apps.kubernetes.io/pod-index)")
	}
	script := strings.Join(init.Command, " ")
	for _, want := range []string{"$((POD_INDEX % SHARDS))", "%s-v%s-%05d-of-%05d.emb", `"$TABLE" "$VERSION" "$shard" "$SHARDS"`} {
		if !strings.Contains(script, want) {
			t.Errorf("the init container's script lacks %q (the shard of an ordinal, embpack shard's file names)", want)
		}
	}
	if c.Command[0] != "/usr/local/bin/embquery" || c.Args[0] != "serve" {
		t.Errorf("shard server runs %v %v", c.Command, c.Args)
	}
	for _, want := range []string{"etcd", "advertise", "dir", "verify", "addr"} {
		if _, ok := arg(c.Args, want); !ok {
			t.Errorf("shard server lacks --%s", want)
		}
	}
	if adv, _ := arg(c.Args, "advertise"); !strings.HasSuffix(adv, ":8080") || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("advertised %s, listening on %d", adv, c.Ports[0].ContainerPort)
	}
	// The init container writes where the server reads.
	mounts := func(c corev1.Container) map[string]string {
		m := map[string]string{}
		for _, v := range c.VolumeMounts {
			m[v.Name] = v.MountPath
		}
		return m
	}
	dir, _ := arg(c.Args, "dir")
	if mounts(init)["tables"] != dir || mounts(c)["tables"] != dir {
		t.Errorf("the shard file goes to %q, the server reads --dir %q", mounts(init)["tables"], dir)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	if v := vols["source"]; v.PersistentVolumeClaim == nil || o.claims[v.PersistentVolumeClaim.ClaimName] == nil {
		t.Error("the source volume's claim is not defined here")
	}
	// Resources sized from the shard file.
	size, err := strconv.ParseInt(pod.Annotations["embstore.io/shard-file-bytes"], 10, 64)
	if err != nil || size < 1 {
		t.Fatalf("annotation embstore.io/shard-file-bytes %q", pod.Annotations["embstore.io/shard-file-bytes"])
	}
	mi := func(q resource.Quantity) float64 { return float64(q.Value()) / (1 << 20) }
	file := float64(size) / (1 << 20)
	req, lim := c.Resources.Requests, c.Resources.Limits
	if got := mi(*req.Memory()); got < file+512 {
		t.Errorf("memory request %.0f MiB, want at least the shard file's %.0f MiB + 512 MiB", got, file)
	}
	if got := mi(*lim.Memory()); got < mi(*req.Memory())+512 {
		t.Errorf("memory limit %.0f MiB, want the request + 512 MiB", got)
	}
	if got := mi(*req.StorageEphemeral()); got < file*1.05 {
		t.Errorf("ephemeral-storage request %.0f MiB, want the shard file + 5%% (%.0f MiB)", got, file*1.05)
	}
	if v := vols["tables"]; v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || mi(*v.EmptyDir.SizeLimit) < file {
		t.Error("the tables volume is not an emptyDir large enough for the shard file")
	}
	if req.Cpu().IsZero() {
		t.Error("no CPU request")
	}
	// SIGTERM: deregister and drain before Kubernetes kills the pod.
	shutdown, _ := arg(c.Args, "shutdown-timeout")
	if d, err := parseSeconds(shutdown); err != nil || pod.Spec.TerminationGracePeriodSeconds == nil || int64(d)+5 > *pod.Spec.TerminationGracePeriodSeconds {
		t.Errorf("--shutdown-timeout %q against a grace period of %v s: the grace period must be longer", shutdown, pod.Spec.TerminationGracePeriodSeconds)
	}
	pdb := o.budgets["embstore-shard"]
	if pdb == nil || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatal("no PodDisruptionBudget embstore-shard with maxUnavailable 1 (two replicas a shard: one may go)")
	}
	selects(t, "PodDisruptionBudget embstore-shard", pdb.Spec.Selector, pod.Labels)
}

func parseSeconds(s string) (int, error) {
	v, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, fmt.Errorf("%q is not in seconds", s)
	}
	return strconv.Atoi(v)
}

func TestRouters(t *testing.T) {
	o := load(t)
	d := o.deployments["embstore-router"]
	if d == nil {
		t.Fatal("no Deployment embstore-router")
	}
	if *d.Spec.Replicas < 2 {
		t.Errorf("%d routers: want 2 or more", *d.Spec.Replicas)
	}
	pod := d.Spec.Template
	selects(t, "Deployment embstore-router", d.Spec.Selector, pod.Labels)
	c := pod.Spec.Containers[0]
	checkContainer(t, o, "router", c, true)
	if c.Args[0] != "route" {
		t.Errorf("router runs %v", c.Args)
	}
	if _, ok := arg(c.Args, "etcd"); !ok {
		t.Error("router lacks --etcd")
	}
	svc := o.services["embstore"]
	if svc == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Fatal("no Service embstore selecting the routers")
	}
	if svc.Spec.Ports[0].TargetPort.StrVal != c.Ports[0].Name {
		t.Errorf("Service targets port %s, the router declares %s", svc.Spec.Ports[0].TargetPort.String(), c.Ports[0].Name)
	}
	// The router Service must not also pick shard servers.
	if ss := o.statefulSets["embstore-shard"]; ss != nil && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ss.Spec.Template.Labels)) {
		t.Error("Service embstore selects the shard servers too")
	}
	pdb := o.budgets["embstore-router"]
	if pdb == nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 {
		t.Fatal("no PodDisruptionBudget embstore-router keeping a router")
	}
	selects(t, "PodDisruptionBudget embstore-router", pdb.Spec.Selector, pod.Labels)
}
