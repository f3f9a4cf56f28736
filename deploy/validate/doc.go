// Package validate checks the deployment files without a container engine or a cluster:
// deploy/compose/compose.yaml with compose-go (the loader of docker compose) against the
// Compose specification, deploy/kubernetes rendered by kustomize and checked against the
// Kubernetes schemas, the Dockerfile with BuildKit's parser and linter, and that the configs
// they mount are the repository's own. A module of its own, so that these libraries stay out of
// spamgeo's go.mod; `make test` runs it (make deploy-check).
package validate
