import mmap, os, random, sys
random.seed(int(sys.argv[1]))
names = [f"target/f{i}.bin" for i in range(40)]
while True:
    name = random.choice(names)
    op = random.randrange(6)
    if op == 0:  # rewrite in place
        with open(name, "r+b") as f:
            f.seek(random.randrange(1 << 20))
            f.write(os.urandom(4096))
    elif op == 1:  # truncate and write
        with open(name, "wb") as f:
            f.write(os.urandom(random.randrange(1, 1 << 20)))
    elif op == 2:  # append
        with open(name, "ab") as f:
            f.write(b"appended\n")
    elif op == 3:  # write a temp, rename it over
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(os.urandom(65536))
        os.replace(tmp, name)
    elif op == 4:  # write through a shared mapping
        with open(name, "r+b") as f:
            if os.fstat(f.fileno()).st_size > 0:
                m = mmap.mmap(f.fileno(), 0)
                m[0:8] = b"MAPPED!!"
                m.close()
    else:  # a new file, then remove it
        new = f"target/new{random.randrange(10)}.txt"
        with open(new, "w") as f:
            f.write("new\n")
        if random.random() < 0.5:
            os.remove(new)
