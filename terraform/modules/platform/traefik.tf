# Traefik: the cluster's edge. edge/ holds its routes and, in traefik-values.yaml, its
# static configuration (Traefik >= v3.7 for encoded-character filtering); this adds what
# depends on the environment. Only the CDN reaches it, so only the CDN's X-Forwarded-For
# is believed.

resource "helm_release" "traefik" {
  name             = "traefik"
  repository       = "https://traefik.github.io/charts"
  chart            = "traefik"
  version          = "41.6.1" # Traefik v3.7.13
  namespace        = "traefik"
  create_namespace = true
  depends_on       = [helm_release.kube_prometheus_stack]

  values = [
    file("${path.module}/../../../edge/traefik-values.yaml"),
    yamlencode({
      deployment = { replicas = var.traefik_replicas }
      providers = {
        # edge/ routes to Knative's ingress; MinIO and Keycloak come as plain Ingresses.
        kubernetesCRD     = { enabled = true, allowCrossNamespace = true }
        kubernetesIngress = { enabled = true }
      }
      ingressClass = { enabled = true, isDefaultClass = true, name = "traefik" }
      ports = {
        web       = { forwardedHeaders = { trustedIPs = var.cdn_source_ranges } }
        websecure = { forwardedHeaders = { trustedIPs = var.cdn_source_ranges }, asDefault = true }
        chatfn    = { forwardedHeaders = { trustedIPs = var.cdn_source_ranges } } # edge/'s, for /api/*
      }
      # asDefault: the add-ons' Ingresses (the web bucket, Keycloak, ArgoCD) name no entry
      # point, so they are served on websecure only, never on chatfn's.
      # Keep the peer address the CDN connected from, so trustedIPs can judge it.
      service = { spec = { externalTrafficPolicy = "Local" } }
      metrics = { prometheus = { serviceMonitor = { enabled = true } } }
    }),
  ]
}
