# The realm whose access tokens `api` accepts besides its own (OIDC_ISSUER). The web UI
# signs in as a public client with PKCE (a browser keeps no secret), and every token it
# gets names chatfn's API as its audience (OIDC_AUDIENCE).

locals {
  oidc_issuer = "${var.keycloak_url}/realms/${keycloak_realm.chatfn.realm}"
}

resource "keycloak_realm" "chatfn" {
  realm        = "chatfn"
  enabled      = true
  ssl_required = "external"
  # Short-lived like chatfn's own access tokens; logouts are denied until expiry.
  access_token_lifespan = "15m"
}

resource "keycloak_openid_client" "web" {
  realm_id                     = keycloak_realm.chatfn.id
  client_id                    = "chatfn-web"
  access_type                  = "PUBLIC"
  standard_flow_enabled        = true
  direct_access_grants_enabled = false
  pkce_code_challenge_method   = "S256"
  valid_redirect_uris          = ["https://${var.domain}/*"]
  web_origins                  = ["https://${var.domain}"]
}

resource "keycloak_openid_audience_protocol_mapper" "api" {
  realm_id                 = keycloak_realm.chatfn.id
  client_id                = keycloak_openid_client.web.id
  name                     = "chatfn-api audience"
  included_custom_audience = local.audience
  add_to_access_token      = true
  add_to_id_token          = false
}
