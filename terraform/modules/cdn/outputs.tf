output "url" {
  description = "The product's public URL."
  value       = "https://${var.hostname}"
}
