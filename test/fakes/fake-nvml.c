/*
 * A stand-in for libnvidia-ml.so.1 with the five symbols and the struct
 * layouts of nvml.h that src/evidence/nvml.ts calls, so the koffi path runs
 * for real in tests. It serves files named by environment variables, read at
 * each call: FAKE_NVML_COUNT (GPUs), FAKE_NVML_REPORT (the SPDM report, raw
 * bytes), FAKE_NVML_CHAIN (the attestation certificate chain, PEM),
 * FAKE_NVML_REPORT_ERROR (an nvmlReturn_t to fail the report call with);
 * and it writes the nonce it was given to FAKE_NVML_NONCE_OUT.
 * Built by test/unit/evidence/nvml.test.ts with gcc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t isCecAttestationReportPresent;
    uint32_t attestationReportSize;
    uint32_t cecAttestationReportSize;
    uint8_t nonce[0x20];
    uint8_t attestationReport[0x2000];
    uint8_t cecAttestationReport[0x1000];
} report_t;

typedef struct {
    uint32_t certChainSize;
    uint32_t attestationCertChainSize;
    uint8_t certChain[0x1000];
    uint8_t attestationCertChain[0x1400];
} cert_t;

static int initialised = 0;

static size_t read_file(const char *env, uint8_t *out, size_t max) {
    const char *path = getenv(env);
    if (path == NULL) return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    size_t n = fread(out, 1, max, f);
    fclose(f);
    return n;
}

int nvmlInit_v2(void) { initialised = 1; return 0; }

int nvmlDeviceGetCount_v2(uint32_t *count) {
    if (!initialised) return 1; /* NVML_ERROR_UNINITIALIZED */
    const char *n = getenv("FAKE_NVML_COUNT");
    *count = n == NULL ? 0 : (uint32_t)atoi(n);
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(uint32_t index, void **device) {
    if (!initialised) return 1;
    *device = (void *)(uintptr_t)(0x1000 + index);
    return 0;
}

int nvmlDeviceGetConfComputeGpuAttestationReport(void *device, report_t *report) {
    if (device == NULL) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    const char *fail = getenv("FAKE_NVML_REPORT_ERROR");
    if (fail != NULL) return atoi(fail);
    /* The caller's nonce stays in the struct, as NVML leaves it; record what arrived. */
    const char *out = getenv("FAKE_NVML_NONCE_OUT");
    if (out != NULL) {
        FILE *f = fopen(out, "wb");
        if (f != NULL) {
            fwrite(report->nonce, 1, sizeof report->nonce, f);
            fclose(f);
        }
    }
    report->isCecAttestationReportPresent = 0;
    report->cecAttestationReportSize = 0;
    report->attestationReportSize = (uint32_t)read_file("FAKE_NVML_REPORT", report->attestationReport, sizeof report->attestationReport);
    return report->attestationReportSize == 0 ? 999 : 0;
}

int nvmlDeviceGetConfComputeGpuCertificate(void *device, cert_t *cert) {
    if (device == NULL) return 2;
    cert->certChainSize = 0;
    cert->attestationCertChainSize = (uint32_t)read_file("FAKE_NVML_CHAIN", cert->attestationCertChain, sizeof cert->attestationCertChain);
    return cert->attestationCertChainSize == 0 ? 999 : 0;
}
