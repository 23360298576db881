# Keycloak, the OpenID provider whose access tokens `api` accepts besides its own
# (modules/chatfn makes the realm and client). Behind Traefik at auth.<domain>.

resource "helm_release" "keycloak" {
  name       = "keycloak"
  repository = "https://codecentric.github.io/helm-charts"
  chart      = "keycloakx"
  version    = "7.1.3"
  namespace  = kubernetes_namespace_v1.this["keycloak"].metadata[0].name
  depends_on = [kubectl_manifest.postgres, kubectl_manifest.operator_secret]

  values = [yamlencode({
    replicas = var.control_plane_replicas
    # The chart serves under /auth unless told otherwise; the issuer chatfn trusts
    # (modules/chatfn: keycloak_url/realms/chatfn) and the provider URL have no such prefix.
    http = { relativePath = "/" }
    command  = ["/opt/keycloak/bin/kc.sh", "start", "--hostname=https://${local.hosts.keycloak}", "--http-enabled=true", "--proxy-headers=xforwarded"]
    database = {
      vendor   = "postgres"
      hostname = "keycloak-pg-rw"
      port     = 5432
      database = "keycloak"
      username = "keycloak"
      # CloudNativePG's generated owner password.
      existingSecret    = "keycloak-pg-app"
      existingSecretKey = "password"
    }
    extraEnv = yamlencode([
      { name = "KC_BOOTSTRAP_ADMIN_USERNAME", valueFrom = { secretKeyRef = { name = "keycloak-admin", key = "username" } } },
      { name = "KC_BOOTSTRAP_ADMIN_PASSWORD", valueFrom = { secretKeyRef = { name = "keycloak-admin", key = "password" } } },
    ])
    ingress = {
      enabled          = true
      ingressClassName = "traefik"
      rules            = [{ host = local.hosts.keycloak, paths = [{ path = "/", pathType = "Prefix" }] }]
    }
  })]
}
