//! Links libnpu_standalone (examples/npu-standalone, built with its CMake project against an
//! npuslim bundle). No bindgen and no C compiler here: src/sys.rs declares the header by hand.
//!
//!   NPUSLIM_BUNDLE          the bundle the library was built against (npuslim extract ... -o DIR)
//!   NPU_STANDALONE_LIB_DIR  the CMake build folder holding the library:
//!                           Linux:   libnpu_standalone.so
//!                           Windows: npu_standalone.dll.a (mingw) or npu_standalone.lib (MSVC),
//!                                    npu_standalone.dll and the bundle's DLLs beside it
//!
//! On Linux the test and example binaries get an RPATH to both folders, so `cargo test` runs
//! without LD_LIBRARY_PATH. Windows has no RPATH: the DLLs must be beside the .exe or on PATH
//! (WINEPATH under Wine); the CMake build folder has them all.
use std::env;
use std::path::{Path, PathBuf};
use std::process;

const HOWTO: &str = "\
build the C library with its CMake project against an npuslim bundle first, then point cargo at both:
    npuslim extract openvino==2026.4.1 --platform manylinux_2_28_x86_64 --manifest cpu-linux --with onnx -o cpu-linux
    cmake -S examples/npu-standalone -B build -DNPUSLIM_BUNDLE=$PWD/cpu-linux && cmake --build build
    NPUSLIM_BUNDLE=$PWD/cpu-linux NPU_STANDALONE_LIB_DIR=$PWD/build cargo test --offline";

fn fail(message: &str) -> ! {
    eprintln!("\nerror: npu-standalone: {}\n{}\n", message, HOWTO);
    process::exit(1);
}

fn folder(var: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={}", var);
    match env::var_os(var) {
        Some(value) if !value.is_empty() => {
            let path = PathBuf::from(value);
            if !path.is_dir() {
                fail(&format!("{}={} is not a folder", var, path.display()));
            }
            path.canonicalize().unwrap_or(path)
        }
        _ => fail(&format!("{} is not set", var)),
    }
}

fn has_any(dir: &Path, names: &[&str]) -> bool {
    names.iter().any(|name| dir.join(name).exists())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let bundle = folder("NPUSLIM_BUNDLE");
    let lib_dir = folder("NPU_STANDALONE_LIB_DIR");
    let windows = env::var("CARGO_CFG_TARGET_OS").map(|os| os == "windows").unwrap_or(false);

    if windows {
        if !bundle.join("lib").join("openvino_c.lib").exists() {
            fail(&format!("{} is not a Windows bundle (no lib/openvino_c.lib) but the target is Windows",
                          bundle.display()));
        }
        if !has_any(&lib_dir, &["npu_standalone.dll.a", "libnpu_standalone.dll.a", "npu_standalone.lib"]) {
            fail(&format!("{} holds no npu_standalone.dll.a or npu_standalone.lib (the CMake build folder of a \
                           Windows build)", lib_dir.display()));
        }
    } else {
        if !bundle.join("lib").join("libopenvino_c.so").exists() {
            fail(&format!("{} is not a Linux bundle with the C API (no lib/libopenvino_c.so)", bundle.display()));
        }
        if !lib_dir.join("libnpu_standalone.so").exists() {
            fail(&format!("{} holds no libnpu_standalone.so (the CMake build folder of a Linux build)",
                          lib_dir.display()));
        }
    }
    for name in ["libnpu_standalone.so", "npu_standalone.dll.a", "npu_standalone.lib", "npu_standalone.dll"] {
        println!("cargo:rerun-if-changed={}", lib_dir.join(name).display());
    }

    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=npu_standalone");
    if !windows {
        // For the crate's own tests and examples (a build script's link args reach every binary
        // of this package). The library's build RPATH already names the bundle's lib/; it is
        // repeated here so the binaries also find it when the library was installed elsewhere.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", bundle.join("lib").display());
    }
    // For dependent crates' build scripts (links = "npu_standalone"): DEP_NPU_STANDALONE_LIB_DIR etc.
    println!("cargo:lib_dir={}", lib_dir.display());
    println!("cargo:bundle={}", bundle.display());
}
