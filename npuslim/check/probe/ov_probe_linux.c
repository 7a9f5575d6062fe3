/*
 * ov_probe_linux: load a Linux OpenVINO bundle the way an application does,
 * and say what happened at each step. Part of npuslim (npuslim verify --load);
 * built with the system's gcc and run natively, with no LD_LIBRARY_PATH, so
 * the bundle's libraries must find each other through their RPATH ($ORIGIN).
 *
 * usage: ov_probe_linux /path/to/lib/libopenvino_c.so.NNNN DEVICE
 *        ov_probe_linux --libs /path/to/lib/a.so...
 *
 * The second form is for bundles without the C API: it only dlopens each
 * library (every DT_NEEDED resolved, constructors run).
 *
 * Prints one line per step, "STEP <name> OK|FAIL <detail>", the same protocol
 * as the Windows probe (ov_probe.c). The C API is reached with dlopen/dlsym,
 * so a missing library is a reported step (dlerror names it), and no OpenVINO
 * header or library is needed to build the probe. Element types are read from
 * the model, never from an enum whose values change between releases.
 */
#include <dlfcn.h>
#include "ov_c_api.h"

static void *lib;

static void *sym(const char *name) { return dlsym(lib, name); }

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* --libs mode: "STEP load:<name>" lines; exit 0 when all loaded. */
static int load_each(int argc, char **argv) {
    char name[600], detail[1200];
    int i, failed = 0;
    for (i = 2; i < argc; i++) {
        void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        snprintf(name, sizeof name, "load:%s", base_name(argv[i]));
        snprintf(detail, sizeof detail, "%s", h ? argv[i] : dlerror());
        step(name, h != NULL, detail);
        failed |= h == NULL;
    }
    return failed;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: ov_probe_linux /path/libopenvino_c.so.N [DEVICE]\n"
                        "       ov_probe_linux --libs A.so...\n");
        return 2;
    }
    if (strcmp(argv[1], "--libs") == 0)
        return load_each(argc, argv);
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        step("load_c_api", 0, dlerror());
        return 1;
    }
    step("load_c_api", 1, argv[1]);
    return run_ov("libopenvino_c", argc > 2 ? argv[2] : "NPU", 1);
}
