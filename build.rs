//! Puts LibTorch's lib folder on the binary's rpath, so `eyeball` starts without LD_LIBRARY_PATH,
//! and compiles the small C++ part (src/model/embedding.cpp) against LibTorch's headers.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=src/model/embedding.cpp");
    let lib_dir = std::env::var("DEP_TCH_LIBTORCH_LIB").ok().or_else(|| {
        std::env::var("LIBTORCH")
            .ok()
            .map(|dir| format!("{dir}/lib"))
    });
    let Some(lib_dir) = lib_dir else {
        panic!("LibTorch not found: set LIBTORCH (./dev setup fetches it)");
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    // The same ABI torch-sys compiles its own C++ with.
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    // LibTorch keeps its headers beside lib/, both in its own archives and in the Python wheel.
    let include = PathBuf::from(&lib_dir).join("../include");
    cc::Build::new()
        .cpp(true)
        .file("src/model/embedding.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .flag_if_supported("-w")
        .opt_level(1)
        .compile("eyeball_embedding");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}
