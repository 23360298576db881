variable "zone_id" {
  description = "The Cloudflare zone holding the product's host."
  type        = string
}

variable "hostname" {
  description = "The product's public host (the UI and /api)."
  type        = string
}

variable "origin_address" {
  description = "The public address of Traefik's load balancer: the origin of every request."
  type        = string
}

variable "web_origin_host" {
  description = "The host Traefik serves the web bucket on (modules/platform output); must be in the zone."
  type        = string
}

variable "service_hosts" {
  description = "Other hosts Traefik serves publicly through the CDN, uncached by these rules (modules/platform output)."
  type        = list(string)
}

variable "web_bucket" {
  description = "The web UI's bucket (WEB_BUCKET), whose objects `./task web:publish` uploads."
  type        = string
}
