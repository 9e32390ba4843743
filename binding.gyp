{
  "targets": [
    {
      "target_name": "netevd_native",
      "sources": ["native/netevd_native.c", "native/netevd_memory.cc"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "cflags!": ["-O3"],
      "cflags_cc": ["-std=gnu++17"],
      "cflags_cc!": ["-O3", "-fno-exceptions"]
    },
    {
      "target_name": "netevd-hookexec",
      "type": "executable",
      "sources": ["native/hookexec.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra"],
      "cflags!": ["-O3"]
    }
  ]
}
