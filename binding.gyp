{
  "targets": [
    {
      "target_name": "netevd_native",
      "sources": ["native/netevd_native.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O3"]
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
