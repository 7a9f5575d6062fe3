"""npuslim: the minimal part of an OpenVINO install that the Intel NPU needs."""

__version__ = "0.1.0"
