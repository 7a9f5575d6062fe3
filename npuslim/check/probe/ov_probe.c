/*
 * ov_probe: load an OpenVINO bundle the way an application does, and say
 * what happened at each step. Part of npuslim (npuslim verify --load); built
 * with the mingw-w64 cross compiler, run natively on Windows or under Wine.
 *
 * usage: ov_probe.exe PATH\TO\openvino_c.dll DEVICE
 *        ov_probe.exe --dlls [--preload PATH\TO\stub.dll]... PATH\TO\a.dll...
 *
 * The second form is for bundles without the C API: it only loads each DLL
 * (every import resolved, DllMain run), after loading the stand-ins given
 * with --preload, which then serve imports of their module name.
 *
 * Prints one line per step, "STEP <name> OK|FAIL <detail>", and exits 0 when
 * every step up to the device ran (a device step that fails because no such
 * device exists is reported, not hidden). The OpenVINO C API is reached with
 * LoadLibrary/GetProcAddress, so a missing DLL is a reported step, not a
 * loader dialog, and no import library is needed to build the probe.
 */
#include "ov_c_api.h"

static HMODULE lib;

static void *sym(const char *name) { return (void *)GetProcAddress(lib, name); }

static const char *base_name(const char *path) {
    const char *b = path, *p;
    for (p = path; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return b;
}

/* --dlls mode: "STEP preload:<name>" and "STEP load:<name>" lines; exit 0 when all loaded. */
static int load_each(int argc, char **argv) {
    char name[600], detail[600];
    int i, failed = 0;
    for (i = 2; i < argc; i++) {
        int preload = strcmp(argv[i], "--preload") == 0 && i + 1 < argc;
        const char *path = preload ? argv[++i] : argv[i];
        HMODULE h = load_path(path);
        snprintf(name, sizeof name, "%s:%s", preload ? "preload" : "load", base_name(path));
        if (h) snprintf(detail, sizeof detail, "%s", path);
        else snprintf(detail, sizeof detail, "LoadLibrary failed with error %lu", GetLastError());
        step(name, h != NULL, detail);
        failed |= h == NULL;
    }
    return failed;
}

int main(int argc, char **argv) {
    char detail[256];

    argv = utf8_argv(&argc);
    if (!argv) {
        fprintf(stderr, "cannot read the command line\n");
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: ov_probe PATH\\openvino_c.dll [DEVICE]\n"
                        "       ov_probe --dlls [--preload STUB.dll]... A.dll...\n");
        return 2;
    }
    if (strcmp(argv[1], "--dlls") == 0)
        return load_each(argc, argv);
    lib = load_path(argv[1]);
    if (!lib) {
        snprintf(detail, sizeof detail, "LoadLibrary failed with error %lu", GetLastError());
        step("load_c_api", 0, detail);
        return 1;
    }
    step("load_c_api", 1, argv[1]);
    return run_ov("openvino_c.dll", argc > 2 ? argv[2] : "NPU", 1);
}
