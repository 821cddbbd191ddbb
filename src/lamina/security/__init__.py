"""Image security: SBOM catalogers, the vulnerability database and matching, secrets, misconfiguration, Dockerfile lint."""
