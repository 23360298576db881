# The CDN is Cloudflare. Its origin may be any host, so the web bucket can stay in the
# cluster's MinIO (a CloudFront S3 origin would want the bucket in AWS); a request it does
# not cache goes to the origin as it came (every header, cookie and the query string); it
# streams text/event-stream as the origin writes it; and rules can set response headers
# that S3 objects cannot carry. One hostname serves both: the edge's paths (/api/*, /v1/*
# and /storage/*) go to Traefik (edge/), every other path to the web bucket, behind the
# same load balancer.

locals {
  # The one source of the UI's headers, shared with the dev gateway and the build.
  security_headers = jsondecode(file("${path.module}/../../../web/security-headers.json"))

  # Traefik's chatfn entry point, as edge/ declares it.
  edge_origin_port = yamldecode(file("${path.module}/../../../edge/traefik-values.yaml")).ports.chatfn.exposedPort

  # Rules are the zone's: each names the product's host, so Keycloak's is left alone.
  # raw.*: the path as the browser sent it, before the rewrites below change it.
  host = "http.host eq \"${var.hostname}\""
  # Every public prefix of src/chatfn/routes.py: the REST API, the OpenAI-compatible API
  # and S3 under the UI's origin (STORAGE_PREFIX). Never cached: answers are per user,
  # streams are live, a presigned URL is a credential.
  edge_paths = "starts_with(raw.http.request.uri.path, \"/api/\") or starts_with(raw.http.request.uri.path, \"/v1/\") or starts_with(raw.http.request.uri.path, \"/storage/\")"
  edge       = "${local.host} and (${local.edge_paths})"
  ui         = "${local.host} and not (${local.edge_paths})"
  # SSE: reply streams, and the OpenAI-compatible API's streamed completions.
  stream = "${local.host} and ((starts_with(raw.http.request.uri.path, \"/api/replies/\") and ends_with(raw.http.request.uri.path, \"/stream\")) or starts_with(raw.http.request.uri.path, \"/v1/\"))"
  # Content-hashed assets and files with an extension (favicon.svg) are objects; any other
  # path is one of the UI's own routes (/c/<id>), answered with index.html.
  object = "starts_with(raw.http.request.uri.path, \"/assets/\") or raw.http.request.uri.path.extension ne \"\""
}

resource "cloudflare_record" "app" {
  zone_id = var.zone_id
  name    = var.hostname
  type    = "A"
  content = var.origin_address
  proxied = true
}

# The web bucket's host, and the add-ons browsers must reach (Keycloak's sign-in).
resource "cloudflare_record" "service" {
  for_each = toset(concat([var.web_origin_host], var.service_hosts))
  zone_id  = var.zone_id
  name     = each.key
  type     = "A"
  content  = var.origin_address
  proxied  = true
}

resource "cloudflare_ruleset" "cache" {
  zone_id = var.zone_id
  name    = "chatfn cache"
  kind    = "zone"
  phase   = "http_request_cache_settings"

  rules {
    description = "the edge's paths are never cached: answers are per user, streams are live"
    expression  = local.edge
    action      = "set_cache_settings"
    action_parameters {
      cache = false
    }
  }

  rules {
    description = "the UI: cached as its objects' Cache-Control says (assets immutable, the rest no-cache)"
    expression  = local.ui
    action      = "set_cache_settings"
    action_parameters {
      cache = true
      edge_ttl {
        mode = "respect_origin"
      }
      browser_ttl {
        mode = "respect_origin"
      }
    }
  }
}

resource "cloudflare_ruleset" "rewrite" {
  zone_id = var.zone_id
  name    = "chatfn web bucket paths"
  kind    = "zone"
  phase   = "http_request_transform"

  rules {
    description = "an object: the same path in the bucket"
    expression  = "${local.ui} and (${local.object})"
    action      = "rewrite"
    action_parameters {
      uri {
        path {
          expression = "concat(\"/${var.web_bucket}\", raw.http.request.uri.path)"
        }
      }
    }
  }

  rules {
    description = "a UI route: the SPA's index.html (never for /assets/, a missing asset stays a 404)"
    expression  = "${local.ui} and not (${local.object})"
    action      = "rewrite"
    action_parameters {
      uri {
        path {
          value = "/${var.web_bucket}/index.html"
        }
      }
    }
  }
}

resource "cloudflare_ruleset" "origin" {
  zone_id = var.zone_id
  name    = "chatfn web origin"
  kind    = "zone"
  phase   = "http_request_origin"

  rules {
    description = "the edge's paths go to Traefik's chatfn entry point (edge/traefik-values.yaml)"
    expression  = local.edge
    action      = "route"
    action_parameters {
      origin {
        port = local.edge_origin_port
      }
    }
  }

  rules {
    description = "the UI comes from the web bucket (Traefik routes this host to MinIO)"
    expression  = local.ui
    action      = "route"
    action_parameters {
      host_header = var.web_origin_host
      origin {
        host = var.web_origin_host
      }
    }
  }
}

resource "cloudflare_ruleset" "security_headers" {
  zone_id = var.zone_id
  name    = "chatfn UI headers"
  kind    = "zone"
  phase   = "http_response_headers_transform"

  rules {
    description = "web/security-headers.json on every UI response"
    expression  = local.ui
    action      = "rewrite"
    action_parameters {
      dynamic "headers" {
        for_each = local.security_headers
        content {
          name      = headers.key
          operation = "set"
          value     = headers.value
        }
      }
    }
  }
}

resource "cloudflare_ruleset" "compression" {
  zone_id = var.zone_id
  name    = "chatfn SSE"
  kind    = "zone"
  phase   = "http_response_compression"

  rules {
    description = "SSE unbuffered (reply streams, /v1 completions): a compressor would hold deltas back"
    expression  = local.stream
    action      = "compress_response"
    action_parameters {
      algorithms {
        name = "none"
      }
    }
  }
}
