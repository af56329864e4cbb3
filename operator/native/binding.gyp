{
  "targets": [
    {
      "target_name": "hive_native",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/errors.cc",
        "src/bpf_object.cc",
        "src/ringbuf_poller.cc",
        "src/kernel_btf.cc",
        "src/libbpf_log.cc",
        "src/resolve_in_root.cc",
        "src/tc_filters.cc",
        "src/link_driver.cc",
        "src/btf_enum.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
