# Only how to reach things: every choice about the environment is in main.tf, in Git.

variable "kubeconfig" {
  description = "Path of the kubeconfig that reaches the cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "The kubeconfig context of this environment's cluster."
  type        = string
}

variable "keycloak_admin_user" {
  description = "Keycloak's bootstrap admin (the store's chatfn/keycloak-admin user)."
  type        = string
  default     = "admin"
}

variable "keycloak_admin_password" {
  description = "Keycloak's bootstrap admin password (the store's chatfn/keycloak-admin password): TF_VAR_keycloak_admin_password."
  type        = string
  sensitive   = true
}

variable "cloudflare_api_token" {
  description = "A Cloudflare API token allowed to edit the zone's DNS and rulesets: TF_VAR_cloudflare_api_token."
  type        = string
  sensitive   = true
}
