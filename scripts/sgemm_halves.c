// OpenBLAS sgemm y = x·Wᵀ (W row-major [N, K]) on one thread, and as two concurrent single-thread calls on the two
// column halves, the way our MatMul splits a product over 2 threads (BENCHMARKS.md, "What this machine can do").
//   gcc -O2 scripts/sgemm_halves.c -o /tmp/sgemm_halves $(pkg-config --cflags --libs openblas) -lpthread
//   /tmp/sgemm_halves 512 4864 896      # M N K
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
void openblas_set_num_threads(int);
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int M,N,K; float*A,*B,*C;} Job;
static void* run(void*p){Job*j=p; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,j->M,j->N,j->K,1,j->A,j->K,j->B,j->K,0,j->C,j->N); return 0;}
int main(int argc,char**argv){
  openblas_set_num_threads(1);
  int M=atoi(argv[1]),N=atoi(argv[2]),K=atoi(argv[3]);
  float*A=malloc(sizeof(float)*M*K),*B=malloc(sizeof(float)*N*K),*C=malloc(sizeof(float)*M*N);
  for(long i=0;i<(long)M*K;i++)A[i]=(rand()%2000-1000)/1000.0f;
  for(long i=0;i<(long)N*K;i++)B[i]=(rand()%2000-1000)/1000.0f;
  double best1=1e9,best2=1e9;
  for(int r=0;r<5;r++){
    Job j={M,N,K,A,B,C}; double t=now(); run(&j); t=now()-t; if(t<best1)best1=t;
    Job h1={M,N/2,K,A,B,malloc(sizeof(float)*M*N)}, h2={M,N-N/2,K,A,B+(long)(N/2)*K,malloc(sizeof(float)*M*N)};
    pthread_t t1,t2; t=now(); pthread_create(&t1,0,run,&h1); pthread_create(&t2,0,run,&h2); pthread_join(t1,0); pthread_join(t2,0); t=now()-t; if(t<best2)best2=t;
    free(h1.C); free(h2.C);
  }
  double fl=2.0*M*N*K;
  printf("M=%d N=%d K=%d: one thread %.0f GFLOPS, two concurrent halves %.0f GFLOPS\n",M,N,K,fl/best1/1e9,fl/best2/1e9);
  return 0;
}
