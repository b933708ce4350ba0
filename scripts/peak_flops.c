// This CPU's arithmetic ceilings (BENCHMARKS.md, "What this machine can do at most"): fp32 FMA (vfmadd, 32 flops
// per 512-bit instruction) and bf16 dot products (vdpbf16ps, 64 flops), 12 independent accumulators per thread
// (enough to hide the latency), on 1 or N threads.
//   gcc -O2 scripts/peak_flops.c -o /tmp/peak_flops -lpthread && /tmp/peak_flops 1 && /tmp/peak_flops 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define ITER 200000000L
__attribute__((target("avx512f"))) static void* fma_loop(void* out){
  __m512 a[12]; __m512 b=_mm512_set1_ps(1.0000001f), c=_mm512_set1_ps(1e-7f);
  for(int i=0;i<12;i++)a[i]=_mm512_set1_ps((float)i);
  for(long n=0;n<ITER;n++){
    #pragma GCC unroll 12
    for(int i=0;i<12;i++)a[i]=_mm512_fmadd_ps(a[i],b,c);
  }
  float s=0; for(int i=0;i<12;i++)s+=_mm512_reduce_add_ps(a[i]); *(float*)out=s; return 0;
}
// bf16: vdpbf16ps does 16 lanes x 2 products + 2 adds = 64 flops.
__attribute__((target("avx512f,avx512bf16"))) static void* bf16_loop(void* out){
  __m512 a[12]; __m512bh b=(__m512bh)_mm512_set1_epi16(0x3f80), c=(__m512bh)_mm512_set1_epi16(0x3380);
  for(int i=0;i<12;i++)a[i]=_mm512_set1_ps((float)i);
  for(long n=0;n<ITER;n++){
    #pragma GCC unroll 12
    for(int i=0;i<12;i++)a[i]=_mm512_dpbf16_ps(a[i],b,c);
  }
  float s=0; for(int i=0;i<12;i++)s+=_mm512_reduce_add_ps(a[i]); *(float*)out=s; return 0;
}
int main(int argc,char**argv){
  int T=atoi(argv[1]); pthread_t t[8]; float o[8];
  for(int kind=0;kind<2;kind++){
    double s=now(); for(int i=0;i<T;i++)pthread_create(&t[i],0,kind?bf16_loop:fma_loop,&o[i]); for(int i=0;i<T;i++)pthread_join(t[i],0); s=now()-s;
    double fl=(kind?4.0:2.0)*16*12*ITER*T;
    printf("%d thread(s): %.0f GFLOPS %s (%.2f s) %g\n",T,fl/s/1e9,kind?"bf16 dot (vdpbf16ps)":"fp32 FMA (vfmadd)",s,o[0]);
  }
  return 0;
}
