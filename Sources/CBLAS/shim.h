// OpenBLAS (Debian libopenblas-dev): CBLAS plus the few Fortran LAPACK routines we call.
// Fortran routines take every argument by pointer; character arguments carry a hidden trailing length.
#include <cblas.h>
#include <stddef.h>

void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info, size_t jobz_len);
