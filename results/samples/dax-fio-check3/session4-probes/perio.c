#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#define M2 (2ul << 20)
static uint64_t now(void){struct timespec ts;clock_gettime(CLOCK_MONOTONIC,&ts);return ts.tv_sec*1000000000ull+ts.tv_nsec;}
int main(int argc,char**argv){
  int fd=open(argv[1],O_RDONLY); size_t len=strtoul(argv[2],0,0)<<20; int passes=atoi(argv[3]);
  char*buf=malloc(M2); uint64_t t0=now();
  for(int p=0;p<passes;p++){
    uint64_t a=now();
    char*src=mmap(NULL,len,PROT_READ,MAP_SHARED,fd,0);
    posix_madvise(src,len,POSIX_MADV_SEQUENTIAL);
    uint64_t b=now();
    printf("mmap %d %llu\n",p,(unsigned long long)(b-a));
    for(size_t o=0;o<len;o+=M2){uint64_t s=now();memcpy(buf,src+o,M2);uint64_t e=now();printf("io %d %zu %llu %llu\n",p,o>>21,(unsigned long long)(s-t0),(unsigned long long)(e-s));}
    munmap(src,len);
  }
  return 0;
}
