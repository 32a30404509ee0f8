print("etcd")
