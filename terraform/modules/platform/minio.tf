# MinIO: the attachments bucket (private) and the web UI's bucket, the CDN's origin, which
# anyone may read (`download`): the UI is public, S3 objects cannot carry our headers, so
# the CDN adds them (modules/cdn). `chatfn web publish` writes it with the chatfn user.

resource "helm_release" "minio" {
  name       = "minio"
  repository = "https://charts.min.io/"
  chart      = "minio"
  version    = "5.4.0"
  namespace  = kubernetes_namespace_v1.this["minio"].metadata[0].name
  depends_on = [kubectl_manifest.operator_secret]

  values = [yamlencode({
    mode           = var.minio_mode
    replicas       = var.minio_replicas
    existingSecret = "minio-root"
    persistence    = { size = "${var.minio_storage_gi}Gi" }
    # The chart asks 16 GiB per node by default, more than a staging node has.
    resources = { requests = { memory = var.minio_mode == "standalone" ? "1Gi" : "4Gi" } }
    buckets = [
      { name = local.buckets.attachments, policy = "none" },
      { name = local.buckets.web, policy = "download" },
    ]
    users = [{ accessKey = local.s3_user, existingSecret = "minio-chatfn", existingSecretKey = "secretKey", policy = "readwrite" }]
    ingress = {
      enabled          = true
      ingressClassName = "traefik"
      hosts            = [local.hosts.web_origin]
    }
  })]
}

locals {
  # An access key is a user name, not a secret: the secret key is the credential.
  s3_user = "chatfn"
  buckets = { attachments = "chatfn-attachments", web = "chatfn-web" }
}
