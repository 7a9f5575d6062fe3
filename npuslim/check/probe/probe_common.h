/*
 * What every npuslim load probe shares: the step protocol and, on Windows, the
 * command line as UTF-8 and LoadLibrary on a UTF-8 path.
 *
 * Protocol: one line per step, "STEP <name> OK|FAIL <detail>", flushed at once,
 * so a probe that crashes half-way still tells how far it got. npuslim's
 * check/load.py and check/load_linux.py parse these lines.
 */
#ifndef NPUSLIM_PROBE_COMMON_H
#define NPUSLIM_PROBE_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line per step; newlines inside a library's messages are folded. */
static void step(const char *name, int ok, const char *detail) {
    char buf[2048];
    size_t i;
    snprintf(buf, sizeof buf, "%s", detail ? detail : "");
    for (i = 0; buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
    printf("STEP %s %s %s\n", name, ok ? "OK" : "FAIL", buf);
    fflush(stdout);
}

#ifdef _WIN32
#include <windows.h>
#include <shellapi.h>

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

/* LoadLibraryExW on a UTF-8 path; dependencies are searched beside the DLL first. */
static HMODULE load_path(const char *path) {
    wchar_t wpath[MAX_PATH * 2];
    MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, (int)(sizeof wpath / sizeof wpath[0]));
    return LoadLibraryExW(wpath, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
}
#endif

#endif
