class A extends B { static #x = () => `${a/2}${/re}/g}`; get [k](){ return {a(){}} } }
#!x
var o={m(){},k:function(){},n:{q:()=>1}}