output "namespace" {
  description = "chatfn's namespace."
  value       = kubernetes_namespace_v1.chatfn.metadata[0].name
}

output "oidc_issuer" {
  description = "The Keycloak realm's issuer (OIDC_ISSUER)."
  value       = local.oidc_issuer
}

output "web_client_id" {
  description = "The web UI's Keycloak client."
  value       = keycloak_openid_client.web.client_id
}
