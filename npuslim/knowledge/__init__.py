"""What npuslim knows about OpenVINO: the manifests (YAML, checked against a JSON Schema) and Windows facts."""
