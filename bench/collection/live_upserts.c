/* live_upserts.c -- acknowledged (fsynced) upserts per second into a live
** BM25-only collection, in batches of 100 SciFact documents, from T writer
** threads sharing the log's group commit; also documents per CPU-second,
** which a shared machine's load does not distort. Merges run as usual.
** Built and run by bench/collection/live.sh; never part of `make test`.
**
**   live_upserts CORPUS COLL N_BATCHES WRITERS
*/
#include "densearch.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static ds_doc *docs;
static int n, T, bs = 100;
static ds_collection *c;
static void *run(void *a){ long t=(long)a; for(int b=t;b*bs<n;b+=T){int k=n-b*bs<bs?n-b*bs:bs; if(ds_collection_upsert(c,docs+b*bs,k,NULL,NULL,NULL)){fprintf(stderr,"%s\n",ds_errmsg());exit(1);}} return NULL;}
int main(int argc,char**argv){
  const char*corpus=argv[1],*dir=argv[2]; int nbatch=atoi(argv[3]); T=atoi(argv[4]);
  ds_corpus *cp; ds_corpus_opts co; ds_corpus_opts_init(&co);
  if(ds_corpus_open(NULL,corpus,&co,&cp)){fprintf(stderr,"%s\n",ds_errmsg());return 1;}
  docs=calloc(bs*nbatch,sizeof*docs); ds_doc d;
  while(n<bs*nbatch && ds_corpus_next(cp,&d)==DS_OK){ docs[n].id=strndup(d.id,d.id_len);docs[n].id_len=d.id_len;docs[n].title=strndup(d.title,d.title_len);docs[n].title_len=d.title_len;docs[n].text=strndup(d.text,d.text_len);docs[n].text_len=d.text_len;n++;}
  ds_collection_open_opts oo; ds_collection_open_opts_init(&oo); oo.writable=1;
  if(ds_collection_open(NULL,dir,&oo,&c)){fprintf(stderr,"%s\n",ds_errmsg());return 1;}
  struct rusage r0,r1; getrusage(RUSAGE_SELF,&r0);
  double t0=now(); pthread_t th[16]; for(long t=0;t<T;t++) pthread_create(&th[t],NULL,run,(void*)t); for(int t=0;t<T;t++) pthread_join(th[t],NULL);
  double t=now()-t0; getrusage(RUSAGE_SELF,&r1);
  double cpu=(r1.ru_utime.tv_sec-r0.ru_utime.tv_sec)+(r1.ru_utime.tv_usec-r0.ru_utime.tv_usec)*1e-6+(r1.ru_stime.tv_sec-r0.ru_stime.tv_sec)+(r1.ru_stime.tv_usec-r0.ru_stime.tv_usec)*1e-6;
  ds_collection_live_stats st; ds_collection_stats_live(c,&st);
  printf("writers %d: %d docs in %.3f s = %.0f docs/s acked (%.0f docs per CPU-s); segments %llu merges %llu\n",T,n,t,n/t,n/cpu,(unsigned long long)st.n_segments,(unsigned long long)st.n_merges);
  ds_collection_close(c); return 0;}
