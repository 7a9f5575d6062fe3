"""Stage 6, report: machine-readable and Markdown forms (deps JSON/DOT/Mermaid, size report, SBOM, diff)."""
