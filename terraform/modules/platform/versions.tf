terraform {
  required_version = ">= 1.10.0"

  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "2.17.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "2.35.1"
    }
    # Custom resources (KnativeServing, Kafka, Cluster...) whose CRDs a chart in this same
    # apply installs: kubernetes_manifest needs the CRD at plan time, kubectl_manifest does not.
    kubectl = {
      source  = "alekc/kubectl"
      version = "2.1.3"
    }
  }
}
