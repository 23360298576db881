provider "kubernetes" {
  config_path    = var.kubeconfig
  config_context = var.kube_context
}

provider "helm" {
  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.kube_context
  }
}

provider "kubectl" {
  config_path      = var.kubeconfig
  config_context   = var.kube_context
  load_config_file = true
}

# Keycloak runs in this cluster: the first apply targets module.platform, and only then
# can this provider sign in (README, Deploy). Provider arguments are never stored in state.
provider "keycloak" {
  url           = module.platform.keycloak_url
  realm         = "master"
  client_id     = "admin-cli"
  username      = var.keycloak_admin_user
  password      = var.keycloak_admin_password
  initial_login = false
}

provider "cloudflare" {
  api_token = var.cloudflare_api_token
}
