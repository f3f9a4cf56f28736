package validate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kubernetesVersion is the oldest Kubernetes the manifests are checked against.
const kubernetesVersion = "1.30.0"

// render builds a kustomization as `kubectl apply -k` does (kustomize's own library, with its
// default restrictions: files only from below each kustomization).
func render(t *testing.T, dir string) ([]byte, error) {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// decodeStrict decodes rendered objects into the Kubernetes API's Go types, refusing unknown
// and duplicate fields and wrong types, as the API server's strict field validation does.
func decodeStrict(rendered []byte) ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	var objects []runtime.Object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, err
		}
		obj, _, err := codec.Decode(doc, nil, nil)
		if err != nil {
			return nil, err
		}
		objects = append(objects, obj)
	}
}

// kubernetesValidate checks rendered objects against the Kubernetes OpenAPI schemas bundled in
// the kubernetes-validate package (the project's venv; SPAMGEO_PYTHON names its python), strictly:
// unknown properties are errors.
func kubernetesValidate(t *testing.T, rendered []byte) ([]byte, error) {
	t.Helper()
	python := os.Getenv("SPAMGEO_PYTHON")
	if python == "" {
		python = repoPath(t, ".local", "venv", "bin", "python")
	}
	tool := filepath.Join(filepath.Dir(python), "kubernetes-validate")
	if _, err := os.Stat(tool); err != nil {
		t.Fatalf("kubernetes-validate is needed: make .local/venv/.installed (%v)", err)
	}
	file := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(file, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command(tool, "--strict", "--quiet", "-k", kubernetesVersion, file).CombinedOutput()
}

type workload struct {
	kind   string
	labels map[string]string
	pod    corev1.PodSpec
}

func kubernetesSite(t *testing.T) (objects []runtime.Object, workloads map[string]workload) {
	t.Helper()
	rendered, err := render(t, repoPath(t, "deploy", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubernetesValidate(t, rendered); err != nil {
		t.Fatalf("kubernetes-validate: %v\n%s", err, out)
	}
	if objects, err = decodeStrict(rendered); err != nil {
		t.Fatal(err)
	}
	workloads = map[string]workload{}
	for _, o := range objects {
		switch o := o.(type) {
		case *appsv1.Deployment:
			workloads[strings.TrimPrefix(o.Name, "spamgeo-")] = workload{"Deployment", o.Spec.Template.Labels, o.Spec.Template.Spec}
		case *batchv1.Job:
			workloads[strings.TrimPrefix(o.Name, "spamgeo-")] = workload{"Job", o.Spec.Template.Labels, o.Spec.Template.Spec}
		}
	}
	return objects, workloads
}

// Peak resident memory of each role from BENCHMARKS.md (BenchmarkResidentMemory): a container's
// memory request must cover it.
var peakMiB = map[string]int64{"enrich": 141, "sink": 292, "trap": 63, "serve": 62, "migrate": 49}

// Every role runs the spamgeo image with the site's settings from a ConfigMap of
// deploy/config/spamgeo.yaml (byte for byte), the password from a Secret where the settings read
// it, as a non-root user with nothing writable but its volumes, with memory requests and limits
// from the benchmarks, and with probes on the ports the settings give.
func TestKubernetesRoles(t *testing.T) {
	objects, workloads := kubernetesSite(t)
	cfg := siteSettings(t)
	site, err := os.ReadFile(repoPath(t, "deploy", "config", "spamgeo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range objects {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = cm
		}
	}
	secretFile := cfg.str(t, "clickhouse-password-file")
	for _, role := range []string{"migrate", "trap", "enrich", "sink", "serve"} {
		w, ok := workloads[role]
		if !ok {
			t.Errorf("no workload for %s", role)
			continue
		}
		if (role == "migrate") != (w.kind == "Job") {
			t.Errorf("%s is a %s", role, w.kind)
		}
		if len(w.pod.Containers) != 1 {
			t.Fatalf("%s: %d containers", role, len(w.pod.Containers))
		}
		c := w.pod.Containers[0]
		if c.Image != "spamgeo:dev" || !slices.Equal(c.Args, []string{role}) || len(c.Command) != 0 {
			t.Errorf("%s: image %s, command %v, args %v", role, c.Image, c.Command, c.Args)
		}
		mounts := map[string]corev1.Volume{}
		for _, m := range c.VolumeMounts {
			for _, v := range w.pod.Volumes {
				if v.Name == m.Name {
					mounts[m.MountPath] = v
				}
			}
		}
		var config string
		for _, e := range c.Env {
			if e.Name == "SPAMGEO_CONFIG" {
				config = e.Value
			}
		}
		if v := mounts[path.Dir(config)]; v.ConfigMap == nil || configMaps[v.ConfigMap.Name] == nil ||
			configMaps[v.ConfigMap.Name].Data[path.Base(config)] != string(site) {
			t.Errorf("%s: SPAMGEO_CONFIG %q is not deploy/config/spamgeo.yaml from its ConfigMap", role, config)
		}
		if v := mounts[path.Dir(secretFile)]; v.Secret == nil || v.Secret.SecretName != "spamgeo-clickhouse" ||
			len(v.Secret.Items) != 1 || v.Secret.Items[0].Path != path.Base(secretFile) {
			t.Errorf("%s: no Secret where the settings read the password (%s)", role, secretFile)
		}

		sc, csc := w.pod.SecurityContext, c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod may run as root: %+v", role, sc)
		}
		if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.Capabilities == nil ||
			!slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s: container security context %+v", role, csc)
		}

		req, lim := c.Resources.Requests, c.Resources.Limits
		peak := resource.NewQuantity(peakMiB[role]<<20, resource.BinarySI)
		if req.Cpu().IsZero() || req.Memory().Cmp(*peak) < 0 || lim.Memory().Cmp(*req.Memory()) < 0 {
			t.Errorf("%s: requests %v, limits %v; peak resident memory %v", role, req, lim, peak)
		}

		if role == "migrate" {
			continue
		}
		metricsPort := cfg.port(t, longRunning[role])
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if ports["metrics"] != int32(metricsPort) {
			t.Errorf("%s: metrics port %d, the settings say %d", role, ports["metrics"], metricsPort)
		}
		for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			switch {
			case p == nil:
				t.Errorf("%s: no %s probe", role, what)
			case p.HTTPGet != nil:
				if ports[p.HTTPGet.Port.String()] == 0 {
					t.Errorf("%s: %s probe on undeclared port %s", role, what, p.HTTPGet.Port.String())
				}
				// The trap reports Kafka's absence on /healthz while it spools, which is no
				// reason to restart it or take it out of service.
				if want := "/healthz"; role != "trap" && p.HTTPGet.Path != want {
					t.Errorf("%s: %s probe on %s", role, what, p.HTTPGet.Path)
				}
			case p.TCPSocket != nil:
				if ports[p.TCPSocket.Port.String()] == 0 {
					t.Errorf("%s: %s probe on undeclared port %s", role, what, p.TCPSocket.Port.String())
				}
			}
		}
		if role == "trap" && c.ReadinessProbe != nil && c.ReadinessProbe.TCPSocket == nil {
			t.Error("trap: readiness should be the SMTP port, which stays open while the trap spools")
		}
	}
	if serve := workloads["serve"].pod.Containers[0]; !slices.ContainsFunc(serve.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "http" && int(p.ContainerPort) == cfg.port(t, "serve-listen")
	}) {
		t.Errorf("serve ports %+v, serve-listen %d", serve.Ports, cfg.port(t, "serve-listen"))
	}
	enrich := workloads["enrich"].pod
	if !slices.ContainsFunc(enrich.Volumes, func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "spamgeo-geoip"
	}) || !slices.ContainsFunc(enrich.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/GeoIP" && m.ReadOnly }) {
		t.Error("enrich: the GeoIP claim is not mounted read-only where the GeoIP flags' defaults look")
	}
	trapSpool := slices.ContainsFunc(workloads["trap"].pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.MountPath == cfg.str(t, "trap-spool-dir")
	})
	if !trapSpool {
		t.Error("trap: nothing writable at its spool directory")
	}
}

// The trap is reached on port 25 with the sender's own address, and serve on its API port.
func TestKubernetesServices(t *testing.T) {
	objects, workloads := kubernetesSite(t)
	cfg := siteSettings(t)
	services := map[string]*corev1.Service{}
	for _, o := range objects {
		if s, ok := o.(*corev1.Service); ok {
			services[s.Name] = s
		}
	}
	trap := services["spamgeo-trap"]
	if trap == nil || len(trap.Spec.Ports) != 1 || trap.Spec.Ports[0].Port != 25 || trap.Spec.Ports[0].TargetPort != intstr.FromString("smtp") ||
		trap.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Fatalf("trap Service %+v", trap)
	}
	for name, s := range services {
		w := workloads[strings.TrimPrefix(name, "spamgeo-")]
		for k, v := range s.Spec.Selector {
			if w.labels[k] != v {
				t.Errorf("Service %s selects %s=%s, not the pods of %s", name, k, v, name)
			}
		}
	}
	smtp := slices.IndexFunc(workloads["trap"].pod.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == "smtp" })
	if smtp < 0 || int(workloads["trap"].pod.Containers[0].Ports[smtp].ContainerPort) != cfg.port(t, "trap-listen") {
		t.Errorf("trap's smtp port is not trap-listen's %d", cfg.port(t, "trap-listen"))
	}
}

// The checks above can fail: a manifest with a misspelt field is refused by the schemas and by
// the strict decoder, and one that reads a file from outside its kustomization by kustomize.
func TestKubernetesValidatorsRefuseBrokenCopies(t *testing.T) {
	copyTree := func(dst string) {
		for _, d := range []string{"kubernetes", "config"} {
			if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(repoPath(t, "deploy", d))); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	copyTree(dir)
	enrich := filepath.Join(dir, "kubernetes", "enrich.yaml")
	src, err := os.ReadFile(enrich)
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(src, []byte("          readinessProbe:"), []byte("          readinesProbe:"), 1)
	if err := os.WriteFile(enrich, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	rendered, err := render(t, filepath.Join(dir, "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubernetesValidate(t, rendered); err == nil {
		t.Errorf("kubernetes-validate accepted a misspelt field:\n%s", out)
	} else {
		t.Logf("kubernetes-validate: %s", out)
	}
	if _, err := decodeStrict(rendered); err == nil {
		t.Error("the strict decoder accepted a misspelt field")
	} else {
		t.Logf("strict decoding: %v", err)
	}

	outside := t.TempDir()
	copyTree(outside)
	kustomization := filepath.Join(outside, "kubernetes", "kustomization.yaml")
	k, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	k = append(k, []byte("configMapGenerator:\n  - name: direct\n    files:\n      - ../config/spamgeo.yaml\n")...)
	if err := os.WriteFile(kustomization, k, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := render(t, filepath.Join(outside, "kubernetes")); err == nil {
		t.Error("kustomize loaded a file from outside the kustomization")
	} else {
		t.Logf("kustomize: %v", err)
	}
}
