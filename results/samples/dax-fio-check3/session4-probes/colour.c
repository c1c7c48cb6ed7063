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
/* GB/s of 2 MiB memcpys out of a populated DAX mapping into a buffer at page colour c (+16 B) */
int main(int argc,char**argv){
  int fd=open(argv[1],O_RDONLY); size_t len=strtoul(argv[2],0,0)<<20; int step=atoi(argv[3]);
  char*src=mmap(NULL,len,PROT_READ,MAP_SHARED|MAP_POPULATE,fd,0);
  char*win=mmap(NULL,64ul<<20,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,-1,0);
  char*base=(char*)(((uintptr_t)win+M2-1)&~(M2-1));
  printf("src %p\n",src);
  for(int rep=0;rep<2;rep++)
  for(long c=0;c<8192;c+=step){
    char*buf=base+c*4096+16; memset(buf,1,M2);
    uint64_t t0=now(); for(size_t o=0;o<len;o+=M2)memcpy(buf,src+o,M2); uint64_t t=now()-t0;
    printf("colour %5ld pages (dst-src mod 2M %3ld) %.3f GB/s\n",c,(long)(((uintptr_t)buf-(uintptr_t)src)/4096%512),(double)len/t);
  }
  return 0;
}
