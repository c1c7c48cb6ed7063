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
/* calls of (fresh buffer, passes with a fresh mapping each), like dax_populate bw_read */
int main(int argc,char**argv){
  int fd=open(argv[1],O_RDONLY); size_t len=strtoul(argv[2],0,0)<<20; int passes=atoi(argv[3]); int calls=atoi(argv[4]);
  int touch=argc>5?atoi(argv[5]):0;
  for(int c=0;c<calls;c++){
    size_t ml=((M2+8+15)&~15ul)+8; ml=(ml+4095)&~4095ul;
    char*map=mmap(NULL,ml,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); char*buf=map+16;
    uint64_t t=0,inio=0,first[4]={0};int nf=0;
    for(int p=0;p<passes;p++){
      uint64_t t0=now();
      char*src=mmap(NULL,len,PROT_READ,MAP_SHARED,fd,0);
      posix_madvise(src,len,POSIX_MADV_SEQUENTIAL);
      for(size_t o=0;o<len;o+=M2){uint64_t s=now();
        if(touch){volatile char x=src[o];(void)x;}
        memcpy(buf,src+o,M2);uint64_t e=now();inio+=e-s; if(o==0&&nf<4)first[nf++]=e-s;}
      t+=now()-t0; munmap(src,len);
    }
    printf("call %d: %.3f GB/s busy %.1f%% first-ios us %llu %llu buf %p\n",c,(double)len*passes/t,100.0*inio/t,
      (unsigned long long)first[0]/1000,(unsigned long long)first[1]/1000,buf);
    munmap(map,ml);
  }
  return 0;
}
