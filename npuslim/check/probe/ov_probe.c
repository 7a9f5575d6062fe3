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
#include <windows.h>
#include <shellapi.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

typedef int ov_status_e;
typedef struct { const char *buildNumber; const char *description; } ov_version_t;
typedef struct { const char *device_name; ov_version_t version; } ov_core_version_t;
typedef struct { ov_core_version_t *versions; size_t size; } ov_core_version_list_t;

typedef ov_status_e (*get_version_fn)(ov_version_t *);
typedef void (*version_free_fn)(ov_version_t *);
typedef ov_status_e (*core_create_fn)(void **);
typedef void (*core_free_fn)(void *);
typedef ov_status_e (*read_model_fn)(const void *, const char *, size_t, const void *, void **);
typedef void (*model_free_fn)(void *);
typedef ov_status_e (*versions_by_device_fn)(const void *, const char *, ov_core_version_list_t *);
typedef void (*versions_free_fn)(ov_core_version_list_t *);
typedef ov_status_e (*compile_model_fn)(const void *, const void *, const char *, size_t, void **, ...);
typedef void (*compiled_model_free_fn)(void *);
typedef ov_status_e (*get_property_fn)(const void *, const char *, const char *, char **);
typedef void (*free_fn)(char *);
typedef const char *(*last_err_fn)(void);
typedef const char *(*error_info_fn)(ov_status_e);

static const char MODEL[] =
    "<?xml version=\"1.0\"?>\n"
    "<net name=\"npuslim_probe\" version=\"11\"><layers>"
    "<layer id=\"0\" name=\"input\" type=\"Parameter\" version=\"opset1\">"
    "<data shape=\"1,4\" element_type=\"f32\"/>"
    "<output><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"1\" name=\"relu\" type=\"Relu\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input>"
    "<output><port id=\"1\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"2\" name=\"output\" type=\"Result\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input></layer>"
    "</layers><edges>"
    "<edge from-layer=\"0\" from-port=\"0\" to-layer=\"1\" to-port=\"0\"/>"
    "<edge from-layer=\"1\" from-port=\"1\" to-layer=\"2\" to-port=\"0\"/>"
    "</edges></net>\n";

static HMODULE lib;

static FARPROC sym(const char *name) { return GetProcAddress(lib, name); }

/* One line per step; newlines inside OpenVINO's messages are folded. */
static void step(const char *name, int ok, const char *detail) {
    char buf[2048];
    size_t i;
    snprintf(buf, sizeof buf, "%s", detail ? detail : "");
    for (i = 0; buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
    printf("STEP %s %s %s\n", name, ok ? "OK" : "FAIL", buf);
    fflush(stdout);
}

static const char *why(ov_status_e status) {
    static char buf[1800];
    last_err_fn last = (last_err_fn)sym("ov_get_last_err_msg");
    error_info_fn info = (error_info_fn)sym("ov_get_error_info");
    const char *msg = last ? last() : NULL;
    snprintf(buf, sizeof buf, "status %d: %s", status,
             msg && *msg ? msg : (info ? info(status) : "no message"));
    return buf;
}

static HMODULE load_path(const char *path) {
    wchar_t wpath[MAX_PATH * 2];
    MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, (int)(sizeof wpath / sizeof wpath[0]));
    return LoadLibraryExW(wpath, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
}

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

/* The arguments as UTF-8 whatever the ANSI code page, so that a bundle path with any
   characters reaches LoadLibraryExW intact (mingw's argv is in the ANSI code page). */
static char **utf8_argv(int *argc) {
    wchar_t **wide = CommandLineToArgvW(GetCommandLineW(), argc);
    char **out = wide ? calloc((size_t)*argc + 1, sizeof *out) : NULL;
    int i;
    for (i = 0; out && i < *argc; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, NULL, 0, NULL, NULL);
        out[i] = n > 0 ? malloc((size_t)n) : NULL;
        if (!out[i] || !WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, out[i], n, NULL, NULL)) return NULL;
    }
    return out;
}

int main(int argc, char **argv) {
    wchar_t wpath[MAX_PATH * 2];
    char detail[1024];
    void *core = NULL, *model = NULL, *compiled = NULL;
    ov_status_e st;
    const char *device = argc > 2 ? argv[2] : "NPU";

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
    MultiByteToWideChar(CP_UTF8, 0, argv[1], -1, wpath, (int)(sizeof wpath / sizeof wpath[0]));
    lib = LoadLibraryExW(wpath, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!lib) {
        snprintf(detail, sizeof detail, "LoadLibrary failed with error %lu", GetLastError());
        step("load_c_api", 0, detail);
        return 1;
    }
    step("load_c_api", 1, argv[1]);

    get_version_fn get_version = (get_version_fn)sym("ov_get_openvino_version");
    version_free_fn version_free = (version_free_fn)sym("ov_version_free");
    core_create_fn core_create = (core_create_fn)sym("ov_core_create");
    core_free_fn core_free = (core_free_fn)sym("ov_core_free");
    read_model_fn read_model = (read_model_fn)sym("ov_core_read_model_from_memory_buffer");
    model_free_fn model_free = (model_free_fn)sym("ov_model_free");
    versions_by_device_fn versions_by_device = (versions_by_device_fn)sym("ov_core_get_versions_by_device_name");
    versions_free_fn versions_free = (versions_free_fn)sym("ov_core_versions_free");
    compile_model_fn compile_model = (compile_model_fn)sym("ov_core_compile_model");
    compiled_model_free_fn compiled_free = (compiled_model_free_fn)sym("ov_compiled_model_free");
    if (!get_version || !core_create || !read_model || !versions_by_device || !compile_model) {
        step("resolve_api", 0, "openvino_c.dll lacks an expected export");
        return 1;
    }

    ov_version_t version = {0};
    st = get_version(&version);
    if (st) { step("version", 0, why(st)); return 1; }
    step("version", 1, version.buildNumber);
    if (version_free) version_free(&version);

    st = core_create(&core);
    if (st) { step("core_create", 0, why(st)); return 1; }
    step("core_create", 1, "ov_core_create succeeded");

    st = read_model(core, MODEL, strlen(MODEL), NULL, &model);
    if (st) step("read_model", 0, why(st));
    else step("read_model", 1, "IR model read from memory by the IR frontend");

    ov_core_version_list_t versions = {0};
    st = versions_by_device(core, device, &versions);
    if (st) {
        step("plugin", 0, why(st));
    } else {
        snprintf(detail, sizeof detail, "%s plugin %s (%s)", device,
                 versions.size ? versions.versions[0].version.buildNumber : "?",
                 versions.size ? versions.versions[0].version.description : "?");
        step("plugin", 1, detail);
        if (versions_free) versions_free(&versions);
        get_property_fn get_property = (get_property_fn)sym("ov_core_get_property");
        free_fn str_free = (free_fn)sym("ov_free");
        char *devices = NULL;
        if (get_property) {
            st = get_property(core, device, "AVAILABLE_DEVICES", &devices);
            if (st) step("devices", 0, why(st));
            else {
                snprintf(detail, sizeof detail, "%s devices: [%s]", device, devices ? devices : "");
                step("devices", devices && *devices, detail);
                if (str_free && devices) str_free(devices);
            }
        }
        if (model) {
            st = compile_model(core, model, device, 0, &compiled);
            if (st) step("device", 0, why(st));
            else {
                step("device", 1, "model compiled on the device");
                if (compiled_free) compiled_free(compiled);
            }
        }
    }
    if (model && model_free) model_free(model);
    if (core_free) core_free(core);
    return 0;
}
